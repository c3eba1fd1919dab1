/**
 * Start-up probe for npm run bench: a bundle that does nothing but import @actions/core (and read
 * one input), built with ncc like the action. Its start-up, against an empty bundle's, is what
 * @actions/core costs every action that uses it before the first line of the action runs.
 */
import { getInput } from '@actions/core'

getInput('probe')

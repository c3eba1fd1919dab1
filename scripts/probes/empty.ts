/** Start-up probe for npm run bench: an empty bundle, built with ncc like the action. */
export {}

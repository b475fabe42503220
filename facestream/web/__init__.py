"""The web pages of `facestream serve`: server-rendered HTML on the API, signed in with a key."""

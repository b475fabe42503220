"""The HTTP API (`facestream serve`): FastAPI under /v1, bearer keys, problem+json errors."""

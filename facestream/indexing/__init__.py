"""Index mode: find every face in photos and videos, group them by identity, let a person review
the groups, and enroll what was labelled (candidates -> clustering -> review -> commit)."""

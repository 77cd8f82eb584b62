"""Challenge submissions: write (:mod:`.write`), validate as a grader would (:mod:`.validate`),
and score against an answer key (:mod:`.score`)."""

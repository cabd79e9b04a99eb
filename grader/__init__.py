"""The judge: runs submissions in fresh processes, checks, times, scores and reports."""

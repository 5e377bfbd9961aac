"""Signals other apps may listen to (a job knows no study: ``ratings`` reacts to them).

- ``job_done(sender=GenerationJob, job_id=int)``: sent once, by the process that marked a job
  done (every image exists), after the mark is saved. Receivers queue follow-up work; they run
  inside the generation task, so they must not raise (``send_robust`` logs what they raise).
"""

from django.dispatch import Signal

job_done = Signal()

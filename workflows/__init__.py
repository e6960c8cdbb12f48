"""Ray entry points. Each module here is runnable with `ray job submit -- python
workflows/<name>.py`."""

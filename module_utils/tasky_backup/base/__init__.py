"""What every operation stands on: settings, errors, clock, files, lock, logs, state, progress,
metrics. Nothing here imports from the engine's other wings."""

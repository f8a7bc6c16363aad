"""Workflow decisions and their orchestration: task states, routing, deadlines, intake."""

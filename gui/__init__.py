"""The instrument window (PySide6 + pyqtgraph); it talks to the engine only via its public API.

Built in a later issue; nothing here yet.
"""

"""The ``plait`` command: parse, call the layers, print, exit with the right code."""

"""Spoken prompts while recording (the person's eyes are on the arm): espeak-ng where installed, else silence."""

from __future__ import annotations

import shutil
import subprocess
import threading


class Speaker:
    """Says short prompts through ``espeak-ng`` without blocking; a new prompt cuts the previous one short."""

    def __init__(self, enabled: bool = True, words_per_minute: int = 175) -> None:
        self.program = shutil.which("espeak-ng") if enabled else None
        self.words_per_minute = words_per_minute
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.program is not None

    def say(self, text: str) -> None:
        if self.program is None:
            return
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
            self._proc = subprocess.Popen(
                [self.program, "-s", str(self.words_per_minute), text],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

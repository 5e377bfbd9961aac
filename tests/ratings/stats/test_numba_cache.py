import os

from ratings.stats import numba_cache


def test_a_temporary_cache_when_nothing_is_writable(monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    environ = {}
    folder = numba_cache.choose_cache_dir(environ)
    assert folder is not None and environ["NUMBA_CACHE_DIR"] == folder


def test_defaults_kept_when_writable_or_chosen(monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: True)
    environ = {}
    assert numba_cache.choose_cache_dir(environ) is None and environ == {}
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    environ = {"NUMBA_CACHE_DIR": "/somewhere"}
    assert numba_cache.choose_cache_dir(environ) is None and environ == {"NUMBA_CACHE_DIR": "/somewhere"}

"""Shared fixtures: every test gets its own database directory under pytest's tmp_path."""

import pytest

import siltdb


@pytest.fixture
def db_path(tmp_path):
    """A path where no database exists yet."""
    return str(tmp_path / "db")


@pytest.fixture
def db(db_path):
    """A freshly created, open DB, closed after the test."""
    handle = siltdb.DB(db_path, create_if_missing=True)
    yield handle
    handle.close()

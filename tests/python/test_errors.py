"""Errors: the exception hierarchy, and which exception each failure to open raises."""

import os

import pytest

import siltdb


def test_hierarchy():
    for cls in (
        siltdb.IOError,
        siltdb.CorruptionError,
        siltdb.InvalidArgumentError,
        siltdb.BusyError,
        siltdb.NotFoundError,
        siltdb.NotSupportedError,
        siltdb.ClosedError,
    ):
        assert issubclass(cls, siltdb.Error), cls
        assert cls.__module__ == "siltdb"
    assert issubclass(siltdb.Error, Exception)
    assert issubclass(siltdb.BusyError, siltdb.IOError)
    assert issubclass(siltdb.ClosedError, RuntimeError)


def test_missing_db_without_create_if_missing(db_path):
    with pytest.raises(siltdb.InvalidArgumentError) as info:
        siltdb.DB(db_path)
    assert isinstance(info.value, siltdb.Error)
    assert str(info.value)
    assert not os.path.exists(db_path)


def test_existing_db_with_error_if_exists(db_path):
    siltdb.DB(db_path, create_if_missing=True).close()
    with pytest.raises(siltdb.InvalidArgumentError):
        siltdb.DB(db_path, create_if_missing=True, error_if_exists=True)


def test_second_open_of_same_directory_is_busy(db_path):
    with siltdb.DB(db_path, create_if_missing=True):
        with pytest.raises(siltdb.BusyError) as info:
            siltdb.DB(db_path)
        assert isinstance(info.value, siltdb.IOError)
        assert isinstance(info.value, siltdb.Error)


def test_bad_compression_is_value_error(db_path):
    with pytest.raises(ValueError, match="compression"):
        siltdb.DB(db_path, create_if_missing=True, compression="zlib")
    assert not os.path.exists(db_path)


def test_zero_write_buffer_is_invalid_argument(db_path):
    with pytest.raises(siltdb.InvalidArgumentError):
        siltdb.DB(db_path, create_if_missing=True, write_buffer_size=0)


def test_name_of_wrong_type_is_type_error():
    with pytest.raises(TypeError):
        siltdb.DB(42, create_if_missing=True)

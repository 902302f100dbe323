"""Alembic migrations upgrade an existing database in place: one made at 0001 (SQLite on a temp file) gains
the review columns of 0002 and the PACS queue table of 0003, and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from tumorscope.serve.db import Review, make_engine, migrate


def test_head_upgrades_a_database_made_at_0001(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0001")
    assert "edit_dice" not in {c["name"] for c in inspect(engine).get_columns("reviews")}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO predictions (id, status, model, model_version, weights_sha256, input_sha256, "
                          "input_kind, options, user, created_at, attempts, result_dir) VALUES ('p1', 'done', 'm', "
                          "'v', 'w', 'i', 'png', '{}', 'carla', '2024-01-01 00:00:00', 1, 'p1')"))
        conn.execute(text("INSERT INTO reviews (prediction_id, reviewer, decision, comment, created_at) "
                          "VALUES ('p1', 'carla', 'accept', 'fine', '2024-01-01 00:00:01')"))
    migrate(engine)
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")  # a fresh inspector: the schema changed
    columns = {c["name"]: c for c in inspect(engine).get_columns("reviews")}
    assert {"edit_dice", "changed_voxels"} <= set(columns) and columns["edit_dice"]["nullable"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    assert "pacs_series" in inspect(engine).get_table_names()
    with Session(engine) as s:
        old = s.query(Review).one()
        assert (old.decision, old.comment, old.edit_dice, old.changed_voxels) == ("accept", "fine", None, None)
        s.add(Review(prediction_id="p1", reviewer="ada", decision="correct", comment="", edit_dice=0.8,
                     changed_voxels=12))
        s.commit()
        assert s.query(Review).filter(Review.edit_dice == 0.8).one().changed_voxels == 12

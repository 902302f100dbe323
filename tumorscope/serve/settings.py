"""Where the service keeps its state and how big a request may be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tumorscope.errors import TumorscopeError

DEFAULT_DATA_DIR = Path("tumorscope-data")
DEFAULT_MAX_UPLOAD = 512 * 1024**2


@dataclass
class Settings:
    """``tumorscope serve``'s options. ``db`` defaults to ``sqlite:///DATA_DIR/tumorscope.db``."""

    data_dir: Path = DEFAULT_DATA_DIR
    db: str | None = None
    workers: int = 1
    max_upload: int = DEFAULT_MAX_UPLOAD

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.workers < 1:
            raise TumorscopeError(f"--workers must be at least 1, got {self.workers}")
        if self.max_upload < 1:
            raise TumorscopeError(f"--max-upload must be positive, got {self.max_upload}")

    @property
    def db_url(self) -> str:
        return database_url(self.db, self.data_dir)

    @property
    def uploads(self) -> Path:
        """Uploaded inputs, one folder per content hash (never a path a client chose)."""
        return self.data_dir / "uploads"

    @property
    def results(self) -> Path:
        """One folder per prediction id, written atomically."""
        return self.data_dir / "results"

    @property
    def reviews(self) -> Path:
        """Corrected masks sent with reviews."""
        return self.data_dir / "reviews"

    @property
    def models(self) -> Path:
        """Bundles installed by admins, beside the bundled ones."""
        return self.data_dir / "models"


def database_url(db: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL: SQLite in the data dir by default; ``postgresql://`` runs on psycopg 3."""
    if not db:
        return f"sqlite:///{Path(data_dir).resolve() / 'tumorscope.db'}"
    for plain in ("postgresql://", "postgres://"):
        if db.startswith(plain):
            return "postgresql+psycopg://" + db[len(plain):]
    if db.startswith(("sqlite:", "postgresql+")):
        return db
    raise TumorscopeError(f"--db must be a sqlite:/// or postgresql:// URL, got {db.split('://')[0]}://...")

"""Alembic's environment for the history store: the store passes its open connection in
`config.attributes["connection"]` (musicdesk/history/db.py), so migrations run inside its transaction."""
from alembic import context

from musicdesk.history.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()

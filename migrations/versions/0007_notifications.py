"""notifications: in-app messages to a user (new ballot, reminder, ballot closed…), read or not,
with the time their e-mail copy went out

Revision ID: 0007_notifications
Revises: 0006_ballots
Create Date: 2026-11-23 22:28:02.002602

"""
from alembic import op
import sqlalchemy as sa

import cabinet.core.types


# revision identifiers, used by Alembic.
revision = '0007_notifications'
down_revision = '0006_ballots'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('created_at', cabinet.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', cabinet.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', cabinet.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_read', ['user_id', 'read_at'], unique=False)



def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_read')

    op.drop_table('notifications')

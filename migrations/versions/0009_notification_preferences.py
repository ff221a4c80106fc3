"""notification preferences: each user's e-mail choice per group of notifications, the e-mail
outbox flag on notifications (email_due), and the record of meeting reminders sent (once each)

Revision ID: 0009_notification_preferences
Revises: 0008_minutes
Create Date: 2026-11-25 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import cabinet.core.types


# revision identifiers, used by Alembic.
revision = '0009_notification_preferences'
down_revision = '0008_minutes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_preferences',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('meetings', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('documents', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('ballots', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('minutes', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('updated_at', cabinet.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preferences'))
    )
    op.create_table('meeting_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', cabinet.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', cabinet.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_reminders_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_reminders')),
    sa.UniqueConstraint('meeting_id', 'user_id', 'starts_at', name='uq_meeting_reminders_meeting_user_start')
    )
    # Notifications written before this revision are not e-mailed again by the outbox: false.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_due', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_notifications_outbox', ['email_due', 'emailed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_outbox')
        batch_op.drop_column('email_due')

    op.drop_table('meeting_reminders')
    op.drop_table('notification_preferences')

# The models and schemas the article's controllers use (User.query,
# Memo.query, user_schema, memo_schema); the article does not show them.
from marshmallow import Schema, fields

from main import db


class User(db.Model):
    __tablename__ = 'users'
    id = db.Column(db.Integer, primary_key=True)
    user_name = db.Column(db.String(64), unique=True, nullable=False)
    # The original compares the password as stored (see auth/controller.py).
    password = db.Column(db.String(1024), nullable=False)


class Memo(db.Model):
    __tablename__ = 'memos'
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey('users.id'), nullable=False, index=True)
    title = db.Column(db.String(200), nullable=False)
    content = db.Column(db.Text, nullable=False, default='')
    archived = db.Column(db.Boolean, nullable=False, default=False)


class UserSchema(Schema):
    id = fields.Integer()
    user_name = fields.String()


class MemoSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    title = fields.String()
    content = fields.String()
    archived = fields.Boolean()


user_schema = UserSchema()
memo_schema = MemoSchema(many=True)

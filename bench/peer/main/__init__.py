# main/__init__.py (the article's app.py): the app factory. The article omits
# its database and schema set-up ("omit..."); this is the least that runs its
# controllers: Flask-SQLAlchemy models and marshmallow schemas.
import os

from flask import Flask
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
jwt = JWTManager()


def create_app():
    app = Flask(__name__)
    app.config.from_object('config')

    # origins -> Access-Control-Allow-Origin, supports_credentials ->
    # Access-Control-Allow-Credentials, as in the article.
    CORS(app, resources={
        '/*': {'origins': os.getenv('FRONTEND_ORIGIN'), 'supports_credentials': True}})

    db.init_app(app)
    jwt.init_app(app)

    from main.auth.controller import auth
    from main.memo.controller import memo
    app.register_blueprint(auth, url_prefix='/auth')
    app.register_blueprint(memo, url_prefix='/memos')
    return app

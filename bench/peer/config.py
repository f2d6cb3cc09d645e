# config.py, as in the article. Adapted to run here: the access token's
# lifetime and the database file come from the environment (the bench needs
# tokens that outlive its run, and a file in its temp folder).
import datetime
import os

# 署名鍵(対称鍵) / デフォルトのアルゴリズムはHS256
JWT_SECRET_KEY = os.getenv('JWT_SECRET_KEY')

# The article: datetime.timedelta(minutes=10).
JWT_ACCESS_TOKEN_EXPIRES = datetime.timedelta(
    minutes=int(os.getenv('PEER_ACCESS_TOKEN_MINUTES', '10')))

JWT_TOKEN_LOCATION = ['cookies']

# CSRF対策 - same siteにのみCookieを送信する。
JWT_COOKIE_SAMESITE = 'Strict'

# httpsでのみCookieを送信する。ローカル環境のためFalseの設定。
JWT_COOKIE_SECURE = os.getenv('JWT_COOKIE_SECURE')

# Not in the article (its database settings are omitted there): SQLite by
# Flask-SQLAlchemy's ORM.
SQLALCHEMY_DATABASE_URI = 'sqlite:///' + os.getenv('PEER_DATABASE', '/tmp/peer.db')
SQLALCHEMY_TRACK_MODIFICATIONS = False

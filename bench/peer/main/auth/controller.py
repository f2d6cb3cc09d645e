# auth/controller.py, as in the article (login, the claims callbacks, logout,
# status). Added to run: the blueprint and imports the article omits.
from typing import Any, Optional, Tuple

from flask import Blueprint, Response, current_app as app, jsonify, make_response, request
from flask_jwt_extended import (create_access_token, set_access_cookies,
                                unset_access_cookies, verify_jwt_in_request)

from main import jwt
from main.models import User, user_schema

auth = Blueprint('auth', __name__)


@auth.route('/login', methods=['POST'])
def authenticate() -> Tuple[Response, int]:
    app.logger.info('login started')

    req_data: Any = request.get_json()

    user_name_to_auth: Optional[str] = req_data['user_name']
    password_to_auth: Optional[str] = req_data['password']

    user = User.query.filter(User.user_name == user_name_to_auth)\
        .filter(User.password == password_to_auth).one_or_none()

    if user is not None:
        app.logger.info('login succeeded')
        # アクセストークンの生成
        access_token = create_access_token(
            identity=user_schema.dump(user))
        response = make_response()
        # クッキーにアクセストークンを配置する。
        set_access_cookies(response, access_token)
        return response, 200
    else:
        app.logger.info('login failed')
        return jsonify({'msg': 'Wrong login id or password.'}), 401


# JWTのsubject claimを決める。
@jwt.user_identity_loader
def identity_user(user):
    return user['id']


# claimを追加する。
@jwt.additional_claims_loader
def add_claims_to_access_token(identity):
    return {
        'department': 'CTO Office',
        'manager_role_attached': False
    }


# @jwt_requiredが付与されている関数の実行前に起動する。
@jwt.user_lookup_loader
def lookup_user(_jwt_header, jwt_data):
    identity = jwt_data["sub"]
    return User.query.filter_by(id=identity).one_or_none()


@auth.route('/logout', methods=['POST'])
def logout():
    app.logger.info('logout started.')
    response: Response = make_response()
    # cookieから取り除く。
    unset_access_cookies(response)
    return response, 200


@auth.route('/status', methods=['GET'])
def isloggedIn():
    app.logger.info('isloggedIn started.')
    # アノテーションでなく、以下のメソッド呼び出しで検証する。
    verify_jwt_in_request()
    return make_response(), 200

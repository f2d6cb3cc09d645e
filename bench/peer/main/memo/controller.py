# memo/controller.py, as in the article (GET /memos). Added to run: the
# blueprint and imports the article omits.
from typing import List, Tuple

from flask import Blueprint, Response, current_app as app, jsonify
from flask_jwt_extended import current_user, jwt_required
from sqlalchemy import false

from main.models import Memo, memo_schema

memo = Blueprint('memo', __name__)


@memo.route('', methods=['GET'])
@jwt_required()
def get_memos() -> Tuple[Response, int]:
    app.logger.info('get_memos started')

    memos: List[Memo] = Memo.query.filter(Memo.user_id == current_user.id).\
        filter(Memo.archived == false()).order_by(Memo.id.asc()).all()
    return jsonify(memo_schema.dump(memos)), 200

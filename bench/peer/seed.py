# Not the article's: creates the tables and the bench's user with its memos
# (the article shows no route that creates them), before gunicorn starts.
#   python seed.py USER_NAME PASSWORD MEMOS
import sys

from main import create_app, db
from main.models import Memo, User

name, password, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app()
with app.app_context():
    db.create_all()
    user = User(user_name=name, password=password)
    db.session.add(user)
    db.session.flush()
    for n in range(1, count + 1):
        db.session.add(Memo(user_id=user.id, title=f'memo {n} of {name}',
                            content='Seeded by bench/run.sh: a short memo body of about eighty characters, like a note.'))
    db.session.commit()

"""The predictor's chat endpoint through the real `openai` client (PyPI), streaming and not.

Run by examples/predictor/tests/chat.rs: python openai_client.py BASE_URL. Exits non-zero
with the failed assertion on any difference from what an OpenAI client expects.
"""

import sys

from openai import BadRequestError, NotFoundError, OpenAI


def main(base_url: str) -> None:
    client = OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=30)

    answer = client.chat.completions.create(
        model="mlotel-wonderland",
        messages=[
            {"role": "system", "content": "You are the White Rabbit."},
            {"role": "user", "content": "Where is the rabbit-hole?"},
        ],
        max_tokens=20,
        seed=11,
    )
    choice = answer.choices[0]
    assert answer.object == "chat.completion", answer
    assert answer.model == "mlotel-wonderland", answer
    assert choice.message.role == "assistant", choice
    assert choice.message.content, choice
    assert choice.finish_reason in ("stop", "length"), choice
    assert answer.usage.prompt_tokens > 0, answer.usage
    assert 0 < answer.usage.completion_tokens <= 20, answer.usage
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens

    pieces, finish, usage = [], None, None
    stream = client.chat.completions.create(
        model="mlotel-wonderland",
        messages=[{"role": "user", "content": "Tell me about Alice"}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk", chunk
        if chunk.usage is not None:
            usage = chunk.usage
        for delta_choice in chunk.choices:
            if delta_choice.delta.content:
                pieces.append(delta_choice.delta.content)
            if delta_choice.finish_reason is not None:
                finish = delta_choice.finish_reason
    assert pieces, "no content streamed"
    assert finish in ("stop", "length"), finish
    assert usage is not None and usage.completion_tokens == len(pieces), (usage, pieces)

    try:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("an unknown model was served")
    except NotFoundError as error:
        assert error.status_code == 404 and "gpt-4o" in str(error), error
    try:
        client.chat.completions.create(model="mlotel-wonderland", messages=[])
        raise AssertionError("an empty message list was served")
    except BadRequestError as error:
        assert error.status_code == 400, error
    print("openai client: ok")


if __name__ == "__main__":
    main(sys.argv[1])

"""Request and response schemas of the serving API (pydantic models).

The response models document every answer in the OpenAPI schema (``/openapi.json``) and are
what the API tests and the schemathesis fuzz test validate answers against. The request
models are strict: ``"5"`` is not an int and an unknown key is an error. The rating bounds of
``POST /recommendations`` are the served model's scale, so those two request models are
built per app by :func:`request_models`.
"""

# No ``from __future__ import annotations``: pydantic and FastAPI read these annotations at
# runtime, and request_models builds classes inside a function.

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_K", "MAX_RATINGS", "MAX_PAIRS", "MAX_PAGE_SIZE", "MAX_QUERY",
    "ErrorOut", "NotFoundOut", "FieldErrorOut", "ValidationErrorOut", "Capabilities",
    "HealthOut", "ItemOut", "RatedItemOut", "ContributionOut", "RecommendationOut", "UserOut",
    "UserSummaryOut", "UserPageOut", "UserRecommendationsOut", "ItemPageOut",
    "SimilarItemOut", "SimilarOut", "PredictionOut", "PredictOut",
    "NewUserRecommendationsOut", "PredictPair", "PredictIn", "request_models",
]

#: Largest k of a top-k request.
MAX_K = 1000
#: Most ratings of a new user in one request.
MAX_RATINGS = 1000
#: Most (user, item) pairs in one ``POST /predict``.
MAX_PAIRS = 1000
MAX_PAGE_SIZE = 100
#: Longest title query, characters.
MAX_QUERY = 200


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, in words.")


class NotFoundOut(BaseModel):
    detail: str = Field(examples=["unknown user id 99999"])
    kind: Literal["user", "item"]
    id: int = Field(description="The id that was not found.")


class FieldErrorOut(BaseModel):
    location: str = Field(description="body, query or path")
    field: str = Field(description="The offending field, e.g. ratings[2].rating", examples=["k"])
    message: str


class ValidationErrorOut(BaseModel):
    detail: str = Field(examples=["k: Input should be less than or equal to 1000"])
    errors: list[FieldErrorOut]


class Capabilities(BaseModel):
    explain: bool = Field(description="Recommendations carry explanations.")
    similar_items: bool
    new_user: bool = Field(description="POST /recommendations (fold-in) is available.")
    shared_features: bool = Field(
        False, description="Similar items say what they share with the item (the model's "
                           "own terms, e.g. TMDB keywords); otherwise from the catalogue.")


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    model: str = Field(description="Model class, e.g. FunkSVD.")
    params: dict[str, Any] = Field(description="The model's hyperparameters.")
    model_file: str = Field(description="File name of the loaded model.")
    dataset: str | None = Field(description="Data set the catalogue came from, if known.")
    n_users: int
    n_items: int = Field(description="Items the model knows.")
    n_catalogue_items: int = Field(description="Items with metadata (may include unrated ones).")
    rating_scale: tuple[float, float]
    predicts_ratings: bool = Field(description="Scores are ratings (else a ranking signal).")
    capabilities: Capabilities
    cache_mb: float = Field(description="Per-worker cache of user recommendations, MiB "
                                        "(0: off).")
    version: str = Field(description="recsys version.")


class ItemOut(BaseModel):
    item_id: int
    title: str
    year: int | None = Field(description="Release year (MovieLens', else TMDB's).")
    genres: list[str] = Field(description="MovieLens genres.")
    n_ratings: int = Field(description="Ratings of the item in the training data.")
    in_model: bool = Field(description="False for catalogue items no one rated in training.")
    # TMDB details: present only where the catalogue has them (recsys serve --metadata tmdb).
    tmdb_id: int | None = Field(None, description="The movie's TMDB id (TMDB metadata only).")
    overview: str | None = Field(None, description="TMDB plot overview, where TMDB has one.",
                                 examples=["Led by Woody, Andy's toys live happily..."])
    tmdb_genres: list[str] | None = Field(None, description="TMDB genres, where known.")
    keywords: list[str] | None = Field(
        None, description="The first (at most 10) of the movie's TMDB keywords, in TMDB's "
                          "order.", examples=[["toy", "friendship", "rivalry"]])


class RatedItemOut(ItemOut):
    rating: float


class ContributionOut(BaseModel):
    item_id: int
    title: str
    rating: float | None = Field(description="The user's rating of this item, if any.")
    contribution: float = Field(description="Its share of the score (model-specific units).")


class RecommendationOut(ItemOut):
    rank: int = Field(description="1 for the best item.")
    score: float = Field(description="The model's ranking score, unclipped (for rating "
                                     "models the predicted rating before clipping).")
    predicted_rating: float | None = Field(description="The score clipped to the rating "
                                                      "scale; null for top-N models.")
    explanation: str | None = Field(description="A short reason, where the model gives one.")
    because: list[ContributionOut] = Field(description="The user's items behind the score.")


class UserOut(BaseModel):
    user_id: int
    n_ratings: int
    mean_rating: float | None
    top_rated: list[RatedItemOut] = Field(description="Highest rated first; ties: most rated.")


class UserSummaryOut(BaseModel):
    user_id: int
    n_ratings: int


class UserPageOut(BaseModel):
    total: int
    page: int
    page_size: int
    users: list[UserSummaryOut]


class UserRecommendationsOut(BaseModel):
    user_id: int
    k: int
    exclude_seen: bool
    items: list[RecommendationOut]


class ItemPageOut(BaseModel):
    query: str
    total: int = Field(description="Matches over all pages.")
    page: int
    page_size: int
    items: list[ItemOut]


class SimilarItemOut(ItemOut):
    similarity: float
    shared: str | None = Field(
        None, description="What the two items have in common, where they share something: "
                          "the terms a content model's similarity counts, else the TMDB "
                          "keywords and genres of the catalogue.",
        examples=["shares keywords: heist, bank robbery; genres: Crime"])


class SimilarOut(BaseModel):
    item: ItemOut
    k: int
    items: list[SimilarItemOut]


class PredictionOut(BaseModel):
    user_id: int
    item_id: int
    rating: float = Field(description="Predicted rating, clipped to the scale (a ranking "
                                      "score for top-N models).")
    user_known: bool
    item_known: bool = Field(description="False: the value is the model's fallback estimate.")


class PredictOut(BaseModel):
    predictions: list[PredictionOut]


class NewUserRecommendationsOut(BaseModel):
    k: int
    n_ratings: int
    items: list[RecommendationOut]


# ---------------------------------------------------------------------- request models
class _Strict(BaseModel):
    # Strict: "5" is not an int; extra keys are errors (a typo must not pass silently).
    model_config = ConfigDict(strict=True, extra="forbid")


class PredictPair(_Strict):
    user_id: int
    item_id: int


class PredictIn(_Strict):
    pairs: list[PredictPair] = Field(min_length=1, max_length=MAX_PAIRS)


def request_models(lo: float, hi: float) -> tuple[type[BaseModel], type[BaseModel]]:
    """``(RatingIn, NewUserIn)``: one rating and the body of ``POST /recommendations``, with
    ratings bounded by the served model's scale ``[lo, hi]`` (distinct items, 1 to
    :data:`MAX_RATINGS` of them)."""

    class RatingIn(_Strict):
        item_id: int
        rating: float = Field(ge=lo, le=hi, allow_inf_nan=False,
                              description=f"On the model's scale [{lo:g}, {hi:g}].")

    class NewUserIn(_Strict):
        ratings: list[RatingIn] = Field(min_length=1, max_length=MAX_RATINGS)
        k: int = Field(10, ge=1, le=MAX_K)
        exclude_rated: bool = Field(True, description="Leave the rated items out.")

        @field_validator("ratings")
        @classmethod
        def _distinct(cls, ratings):
            seen: set[int] = set()
            for r in ratings:
                if r.item_id in seen:
                    raise ValueError(f"item {r.item_id} is rated more than once")
                seen.add(r.item_id)
            return ratings

    return RatingIn, NewUserIn

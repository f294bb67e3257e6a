"""config.yaml -> frozen settings.

Every error names the file, the key path (`sources[2].every`) and what is wrong, and an
unknown key is an error, never ignored: a typo like `evry` would otherwise silently leave
a source on the default interval. Relative paths (a SQLite file, the digest folder) are
resolved against the config file's folder, so the monitor behaves the same from any cwd.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from monitor.core.durations import parse_clock, parse_duration
from monitor.core.query import Node, parse
from monitor.errors import ConfigError, QuerySyntaxError
from monitor.ingest.google_news import search_url
from monitor.ingest.listing import selector_is_valid
from monitor.store.db import BACKENDS

DEFAULT_USER_AGENT = "monitor/0.1 (+https://github.com/monitor/monitor)"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value))


# A duration written `30m`, `6h`, `3d` (or already a timedelta).
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class FetchConfig(_Model):
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = Field(20.0, gt=0, le=600, allow_inf_nan=False)
    max_bytes: int = Field(10_000_000, gt=0)
    per_host: int = Field(2, ge=1, le=16)
    concurrency: int = Field(20, ge=1, le=500)
    allow_private: bool = False  # article pages on loopback/private/link-local addresses (tests only)

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, v: str) -> str:
        # An HTTP header holds visible ASCII and spaces: anything else would fail every request.
        if not v.strip() or not re.fullmatch(r"[\x20-\x7e]+", v):
            raise ValueError(f"{v!r} is not a valid User-Agent: use printable ASCII only, like \"monitor/1.0 (+https://example.org)\"")
        return v


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _address(v: str) -> str:
    if not _EMAIL.match(v):
        raise ValueError(f"{v!r} is not an e-mail address")
    return v


# A list of e-mail addresses; a single address may be written without the brackets.
Addresses = Annotated[
    tuple[str, ...],
    BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
    AfterValidator(lambda v: tuple(_address(a) for a in v)),
]


class SmtpConfig(_Model):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
            # Not echoed: what was written here may well be the password itself.
            raise ValueError("is not an environment variable name (the password itself never goes in this "
                             "file: put it in a variable and write the variable's name here)")
        return v



class EmailConfig(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: Addresses
    sender: str = Field(alias="from")
    smtp: SmtpConfig

    @field_validator("to")
    @classmethod
    def _recipients(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("needs at least one recipient")
        return v

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        return _address(v)


class SourceConfig(_Model):
    name: str
    url: str = ""
    type: Literal["feed", "html", "google_news"] = "feed"
    fetch_article: bool = False  # fetch the page of new entries whose summary is short
    verify: bool = True  # false: accept a TLS certificate that does not verify (self-signed intranet feeds)
    query: str | None = None  # google_news: the search
    hl: str = "ja"
    gl: str = "JP"
    ceid: str | None = None
    every: Duration = timedelta(minutes=30)
    item: str | None = None
    title: str = "a"
    link: str = "a"
    date: str | None = None

    @property
    def fingerprint(self) -> str:
        """Identifies this entry's settings: a source disabled by a 410 is polled again once they change."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    @property
    def reading(self) -> str:
        """Identifies how a fetched page becomes entries (an html source's selectors): once it
        changes, the page is fetched whole again, since a 304 would keep the old reading's result."""
        if self.type != "html":
            return ""
        chosen = self.model_dump_json(include={"item", "title", "link", "date"})
        return hashlib.sha256(chosen.encode()).hexdigest()[:16]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} may only hold ASCII letters, digits, - and _ (a name is typed in commands)")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"{v!r} is not an http(s) address")
        if v:
            try:
                port = urlsplit(v).port  # raises for a port out of range or not a number
            except ValueError as exc:
                raise ValueError(f"{v!r} is not an http(s) address: {exc}") from None
            if port == 0:
                raise ValueError(f"{v!r} is not an http(s) address: port 0 is no port")
        return v


    @model_validator(mode="after")
    def _selectors(self) -> SourceConfig:
        google = {"query", "hl", "gl", "ceid"}
        if self.type == "google_news":
            if not self.query:
                raise ValueError("a google_news source needs `query`: the words to search Google News for")
            if not self.url:  # the address is built from the query: set it so every poll uses it
                object.__setattr__(self, "url", search_url(self.query, hl=self.hl, gl=self.gl, ceid=self.ceid))
        elif google & self.model_fields_set:
            keys = ", ".join(sorted(google & self.model_fields_set))
            raise ValueError(f"{keys}: these keys are for google_news sources")
        elif not self.url:
            raise ValueError("url: required key is missing")
        selectors = {"item", "title", "link", "date"}
        if self.type == "html" and not self.item:
            raise ValueError("an html source needs `item`, the CSS selector of one entry")
        if self.type != "html" and selectors & self.model_fields_set:
            keys = ", ".join(sorted(selectors & self.model_fields_set))
            raise ValueError(f"{keys}: selectors are for html sources; this source is a {self.type}")
        if self.type == "html":
            for key in sorted(selectors):
                value = getattr(self, key)
                if value is not None and not selector_is_valid(value):
                    raise ValueError(f"{key}: {value!r} is not a valid CSS selector")
        return self


class TopicConfig(_Model):
    name: str
    query: str
    title: str = ""
    fetch_article: bool = False  # fetch the page of new entries matching this topic (short summaries)
    alert: Literal["none", "immediate"] = "none"
    alert_to: Addresses = ()
    alert_min_interval: Duration = timedelta(minutes=15)


    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} may only hold ASCII letters, digits, - and _ (a name is typed in commands; "
                             f"write {v!r} as the topic's title: its digest heading)")
        return v

    @property
    def heading(self) -> str:
        return self.title or self.name

    @property
    def tree(self) -> Node:
        return parse(self.query)


class DigestConfig(_Model):
    at: time = time(8, 0)
    dir: Path = Path("digests")
    lookback: Duration = timedelta(days=3)
    email: EmailConfig | None = None
    send_empty: bool = False

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> time:
        if isinstance(v, time):
            return v
        if not isinstance(v, str):  # at: 8 -- eight o'clock or eight minutes past midnight?
            raise ValueError(f"{v!r} is not a time of day: write HH:MM, like 08:00")  # noqa: TRY004 (pydantic reports ValueError)
        return parse_clock(v)



def _file_mode(value: Any) -> int:
    # A YAML 0640 is the integer 416 and 640 is decimal: only a string says which the user meant.
    if isinstance(value, _OctalInt):  # 0600 unquoted arrives as 384: say what the user wrote
        raise ValueError(  # noqa: TRY004 - pydantic reports a ValueError as the key's error
            f"{value.written} unquoted is the number {int(value)} to YAML, not a file mode; "
            f"write it in quotes, \"{value.written}\"")
    if isinstance(value, int) and not isinstance(value, bool) and re.fullmatch(r"[0-7]{3}", str(value)):
        raise ValueError(f"{value!r} is not a file mode; write it as an octal string in quotes, \"0{value}\"")
    if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value.strip()):
        raise ValueError(f"{value!r} is not a file mode; write an octal string in quotes, like \"0640\"")
    mode = int(value, 8)
    if mode & 0o600 != 0o600 or mode & 0o111:
        raise ValueError(f"{value!r}: the owner must be able to read and write, and nobody to execute")
    return mode


# Permissions of the files the monitor creates (the SQLite file, its -wal/-shm, digests): "0600".
FileMode = Annotated[int, BeforeValidator(_file_mode)]


class Config(_Model):
    database: str = "sqlite:///monitor.db"
    file_mode: FileMode = 0o600
    timezone: str = "UTC"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    retention: Duration = timedelta(days=365)
    fetch: FetchConfig = FetchConfig()
    sources: tuple[SourceConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    digest: DigestConfig = DigestConfig()
    path: Path = Field(Path("config.yaml"), exclude=True)


    @field_validator("database")
    @classmethod
    def _database(cls, v: str) -> str:
        try:
            url = make_url(v)
            url.get_dialect()
        except ArgumentError:
            raise ValueError(f"{v!r} is not a database URL; write e.g. sqlite:///monitor.db") from None
        except NoSuchModuleError:
            raise ValueError(f"{v!r} names a kind of database SQLAlchemy does not know") from None
        if url.get_backend_name() not in BACKENDS:
            raise ValueError(f"{url.get_backend_name()} is not supported; use a sqlite:/// or postgresql+psycopg:// "
                             "URL (search needs SQLite FTS5 or PostgreSQL)")
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:")
                                                   or url.query.get("mode") == "memory"
                                                   or "mode=memory" in (url.database or "")):
            raise ValueError(f"{v!r} is a database in memory, gone when the command ends; "
                             "name a file: sqlite:///monitor.db")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone name, like Asia/Tokyo") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def alerting(self) -> tuple[TopicConfig, ...]:
        """The `alert: immediate` topics."""
        return tuple(t for t in self.topics if t.alert == "immediate")

    @property
    def base_dir(self) -> Path:
        return self.path.absolute().parent

    @property
    def digest_dir(self) -> Path:
        return self.digest.dir if self.digest.dir.is_absolute() else self.base_dir / self.digest.dir

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL with a relative SQLite path made relative to the config file, and
        ``~/`` the user's home (as in the shell; a folder named ~ is never what was meant)."""
        m = re.match(r"^(sqlite(?:\+\w+)?):///(?!/)(.+)$", self.database)
        if not m or m.group(2).startswith(":memory:") or m.group(2).startswith("file:"):
            return self.database
        path = Path(m.group(2)).expanduser() if m.group(2).startswith("~/") else Path(m.group(2))
        return f"{m.group(1)}:///{(self.base_dir / path).resolve()}"

    def smtp_password(self) -> str | None:
        """The SMTP password from the environment (never from this file); a ConfigError naming
        the variable when it is unset, so `monitor run` fails at start, not at digest time."""
        smtp = self.digest.email.smtp if self.digest.email else None
        if smtp is None or smtp.password_env is None:
            return None
        value = os.environ.get(smtp.password_env)
        if value is None:
            raise ConfigError(f"{self.path}: digest.email.smtp.password_env: the environment variable "
                              f"{smtp.password_env} is not set; export it before starting the monitor")
        return value

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"{self.path}: no source named {name!r}; `monitor sources` lists them")

    def topic(self, name: str) -> TopicConfig:
        for t in self.topics:
            if t.name == name:
                return t
        raise ConfigError(f"{self.path}: no topic named {name!r}; the config has {[t.name for t in self.topics]}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping (the second would win silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _OctalInt(int):
    """An integer YAML read from octal digits (file_mode: 0600 is 384): keeps what was written."""

    written: str


def _construct_int(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_yaml_int(node)
    if re.fullmatch(r"[-+]?0[0-7_]+", node.value):
        octal = _OctalInt(value)
        octal.written = node.value
        return octal
    return value


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)

# YAML 1.1 reads an unquoted 18:30 as the base-60 integer 1110, so 8:00 and 0:08 and 8 could not be
# told apart; without the base-60 forms, 18:30 stays the text it is.
_BASE_60 = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _BASE_60]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config`, else `$MONITOR_CONFIG`, else `./config.yaml`."""
    return Path(explicit or os.environ.get("MONITOR_CONFIG") or "config.yaml")


_SECTIONS = ("sources", "topics", "digest", "fetch")  # left empty (null), they take their defaults


def load(path: Path) -> Config:
    """Read and validate a config file; raises ConfigError naming the file and key path."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; pass --config PATH or set MONITOR_CONFIG") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        where = " ".join(str(exc).split()).replace(' in "<unicode string>",', " at")
        raise ConfigError(f"{path}: not valid YAML: {where}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys (database, sources, topics...)")
    return from_mapping(raw, path)


def from_mapping(raw: dict[str, Any], path: Path) -> Config:
    """Validate an already-read mapping (tests build configs this way)."""
    if "path" in raw:
        raise ConfigError(f"{path}: path: unknown key")
    # `topics:` with every topic commented out is YAML null: the section is empty, not invalid
    raw = {k: v for k, v in raw.items() if not (v is None and k in _SECTIONS)}
    try:
        config = Config.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise ConfigError(_explain(path, raw, exc)) from None
    _check_unique(path, "sources", [s.name for s in config.sources])
    _check_unique(path, "topics", [t.name for t in config.topics])
    for i, topic in enumerate(config.topics):
        try:
            parse(topic.query)
        except QuerySyntaxError as exc:
            raise ConfigError(f"{path}: topics[{i}].query: topic {topic.name!r}: {exc}") from None
        if topic.alert == "immediate" and not config.digest.email:
            # alert_to says who; the SMTP server, the sender and the mail job come with digest.email
            raise ConfigError(f"{path}: topics[{i}].alert: topic {topic.name!r} alerts by e-mail but there is no "
                              "digest.email (its smtp, from and to send the alerts; alert_to only changes to)")
    return config


def _check_unique(path: Path, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(f"{path}: {key}[{i}].name: {name!r} is used twice; names must be unique")
        seen.add(name)


def _explain(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """The first pydantic error as `file: key.path: what is wrong`."""
    err = exc.errors()[0]
    loc = _key_path(err["loc"])
    if err["type"] == "extra_forbidden":
        if err["loc"][-1] == "password":  # the value is never echoed: it is a secret
            return (f"{path}: {loc}: unknown key; a password never goes in this file: export it in an "
                    "environment variable and name that variable in password_env")
        return f"{path}: {loc}: unknown key"
    if err["type"] == "missing":
        return f"{path}: {loc}: required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_type" and isinstance(err.get("input"), bool):  # hl: no, gl: NO
        msg += f" (YAML reads an unquoted yes/no/on/off as {str(err['input']).lower()}: put the value in quotes)"
    return f"{path}: {loc}: {msg}"


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_selectors(), SourceConfig]",) or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"

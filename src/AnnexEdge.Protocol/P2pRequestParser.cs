using System.Globalization;

namespace AnnexEdge.Protocol;

/// <summary>The outcome of parsing: exactly one of <see cref="Request"/> and <see cref="Rejection"/> is set.</summary>
public readonly record struct P2pParseResult(P2pRequest? Request, P2pRejection? Rejection)
{
    public static implicit operator P2pParseResult(P2pRequest request) => new(request, null);

    public static implicit operator P2pParseResult(P2pRejection rejection) => new(null, rejection);
}

/// <summary>
/// Parses and validates a request of the p2phttp API the way <c>git annex p2phttp</c> does, so that a
/// malformed request gets the status and message a node would give without reaching any node.
/// Checks run in git-annex's order: path shape, then the UUID, version and key in the path, then the method,
/// then query parameters in the API's order, then headers.
/// </summary>
public static class P2pRequestParser
{
    public const string PathPrefix = "/git-annex/";
    public const string DataLengthHeader = "X-git-annex-data-length";

    private const string EmptyUuid = "empty UUID";

    public static P2pParseResult Parse(string method, string path, string? rawQuery, string? dataLengthHeader)
    {
        if (!path.StartsWith(PathPrefix, StringComparison.Ordinal))
        {
            return P2pRejection.NotFound;
        }

        var segments = path[PathPrefix.Length..].Split('/');
        // One trailing slash is ignored, as git-annex's router does. Any other empty segment is an ordinary
        // segment: empty where a word is expected, it is no route; empty where a UUID, version or key is
        // expected, it fails that value's parsing ("//v4/checkpresent" is "empty UUID").
        if (segments.Length > 1 && segments[^1].Length == 0)
        {
            segments = segments[..^1];
        }

        var query = P2pQuery.Parse(rawQuery);

        // GET /git-annex/UUID/key/KEY: unversioned, no parameter needed.
        if (segments.Length == 3 && segments[1] == "key")
        {
            return ParseUnversionedKey(method, segments[0], segments[2], query);
        }

        P2pEndpoint endpoint;
        string? pathKey = null;
        if (segments.Length == 4 && segments[2] == "key")
        {
            endpoint = P2pEndpoint.Key;
            pathKey = segments[3];
        }
        else if (segments.Length == 3 && segments[2] != "key" && P2pEndpoints.TryParseName(segments[2], out endpoint))
        {
        }
        else
        {
            return P2pRejection.NotFound;
        }

        // Path captures are parsed before the method is looked at: UUID, then version, then key.
        if (!TryParseUuidValue(segments[0], out var uuid, out var uuidError))
        {
            return new P2pRejection(400, uuidError);
        }

        if (!TryParseVersion(segments[1], out var version) || version < endpoint.MinVersion())
        {
            return P2pRejection.BadVersion;
        }

        string? key = null;
        if (pathKey is not null && !TryParseKey(pathKey, out key, out var keyError))
        {
            return new P2pRejection(400, keyError);
        }

        // A wrong method fails this version's route with 405, but the routes of the other versions fail with
        // "bad version", and git-annex's router reports the 400.
        if (!(endpoint == P2pEndpoint.Key ? IsGet(method) : method == "POST"))
        {
            return P2pRejection.BadVersion;
        }

        return ParseParameters(endpoint, version, uuid, key, query, dataLengthHeader);
    }

    private static P2pParseResult ParseUnversionedKey(string method, string uuidSegment, string keySegment, P2pQuery query)
    {
        if (!TryParseUuidValue(uuidSegment, out var uuid, out var uuidError))
        {
            return new P2pRejection(400, uuidError);
        }

        // "UUID/key/checkpresent" is also a versioned route whose version is "key"; git-annex reports that route's error.
        if (keySegment != "key" && P2pEndpoints.TryParseName(keySegment, out _))
        {
            return P2pRejection.BadVersion;
        }

        if (!TryParseKey(keySegment, out var key, out var error))
        {
            return new P2pRejection(400, error);
        }

        if (!IsGet(method))
        {
            return P2pRejection.MethodNotAllowed;
        }

        // clientuuid is optional here and bypass has no effect, but git-annex still refuses malformed values.
        string? clientUuid = null;
        var rawClient = query.First("clientuuid", out _);
        if (rawClient is not null && !TryParseUuidValue(rawClient, out clientUuid, out var clientError))
        {
            return P2pRejection.BadParameter("clientuuid", clientError);
        }

        if (!TryParseBypass(query, out var bypass, out var bypassError))
        {
            return P2pRejection.BadParameterList("bypass", bypassError);
        }

        return new P2pRequest
        {
            Uuid = uuid,
            Version = null,
            Endpoint = P2pEndpoint.Key,
            Key = key,
            ClientUuid = clientUuid,
            Bypass = bypass,
        };
    }

    private static P2pParseResult ParseParameters(
        P2pEndpoint endpoint, int version, string uuid, string? key, P2pQuery query, string? dataLengthHeader)
    {
        // data-present came with v4, as the first parameter of put; older versions ignore it.
        var dataPresent = false;
        if (endpoint == P2pEndpoint.Put && version >= 4)
        {
            var raw = query.First("data-present", out _);
            if (raw is not null)
            {
                // Exactly "true" or "false" in any case, as Haskell's Bool parameter reads it (no blanks).
                if (raw.Equals("true", StringComparison.OrdinalIgnoreCase))
                {
                    dataPresent = true;
                }
                else if (!raw.Equals("false", StringComparison.OrdinalIgnoreCase))
                {
                    return P2pRejection.BadParameter("data-present", $"could not parse: `{raw}'");
                }
            }
        }

        string? lockId = null;
        if (endpoint == P2pEndpoint.KeepLocked)
        {
            var raw = query.First("lockid", out var present);
            if (!present || raw is null)
            {
                return P2pRejection.MissingParameter("lockid");
            }

            if (!TryParseUuidValue(raw, out lockId, out var error))
            {
                return P2pRejection.BadParameter("lockid", error);
            }
        }

        if (endpoint is not (P2pEndpoint.Key or P2pEndpoint.GetTimestamp or P2pEndpoint.KeepLocked))
        {
            var raw = query.First("key", out var present);
            if (!present || raw is null)
            {
                return P2pRejection.MissingParameter("key");
            }

            if (!TryParseKey(raw, out key, out var error))
            {
                return P2pRejection.BadParameter("key", error);
            }
        }

        string? clientUuid = null;
        {
            var raw = query.First("clientuuid", out var present);
            if (!present || raw is null)
            {
                // keeplocked accepts a missing clientuuid; every other versioned request needs it.
                if (endpoint != P2pEndpoint.KeepLocked)
                {
                    return P2pRejection.MissingParameter("clientuuid");
                }
            }
            else if (!TryParseUuidValue(raw, out clientUuid, out var error))
            {
                return P2pRejection.BadParameter("clientuuid", error);
            }
        }

        if (!TryParseBypass(query, out var bypass, out var bypassError))
        {
            return P2pRejection.BadParameterList("bypass", bypassError);
        }

        string? associatedFile = null;
        long? offset = null;
        if (endpoint is P2pEndpoint.Key or P2pEndpoint.Put)
        {
            var rawFile = query.First("associatedfile", out var filePresent);
            if (filePresent && rawFile is not null && !Base64Bracket.TryDecode(rawFile, out associatedFile))
            {
                return P2pRejection.BadParameter("associatedfile", Base64Bracket.DecodeError);
            }

            var rawOffset = query.First("offset", out var offsetPresent);
            if (offsetPresent && rawOffset is not null)
            {
                if (!TryParseInteger(rawOffset, out var o))
                {
                    return P2pRejection.BadParameter("offset", "offset parse error");
                }

                offset = o;
            }
        }

        long? timestamp = null;
        if (endpoint == P2pEndpoint.RemoveBefore)
        {
            var raw = query.First("timestamp", out var present);
            if (!present || raw is null)
            {
                return P2pRejection.MissingParameter("timestamp");
            }

            if (!TryParseInteger(raw, out var t))
            {
                return P2pRejection.BadParameter("timestamp", "timestamp parse error");
            }

            timestamp = t;
        }

        long? dataLength = null;
        if (endpoint == P2pEndpoint.Put)
        {
            if (dataLengthHeader is null)
            {
                return P2pRejection.MissingHeader(DataLengthHeader);
            }

            if (!TryParseInteger(dataLengthHeader, out var length))
            {
                return P2pRejection.BadHeader(DataLengthHeader, $"{DataLengthHeader} parse error");
            }

            dataLength = length;
        }

        return new P2pRequest
        {
            Uuid = uuid,
            Version = version,
            Endpoint = endpoint,
            Key = key,
            ClientUuid = clientUuid,
            Bypass = bypass,
            AssociatedFile = associatedFile,
            Offset = offset,
            Timestamp = timestamp,
            LockId = lockId,
            DataPresent = dataPresent,
            DataLength = dataLength,
        };
    }

    /// <summary>Every bypass value; one written without '=' is skipped, as git-annex skips it.</summary>
    private static bool TryParseBypass(P2pQuery query, out List<string> bypass, out string error)
    {
        bypass = [];
        foreach (var raw in query.All("bypass"))
        {
            if (raw is null)
            {
                continue;
            }

            if (!TryParseUuidValue(raw, out var b, out error))
            {
                return false;
            }

            bypass.Add(b);
        }

        error = "";
        return true;
    }

    private static bool IsGet(string method) => method is "GET" or "HEAD";

    private static bool TryParseVersion(string segment, out int version)
    {
        version = -1;
        if (segment.Length != 2 || segment[0] != 'v' || !char.IsAsciiDigit(segment[1]))
        {
            return false;
        }

        version = segment[1] - '0';
        return version <= P2pEndpoints.MaxVersion;
    }

    /// <summary>git-annex accepts any non-empty string as a UUID.</summary>
    private static bool TryParseUuidValue(string raw, out string uuid, out string error)
    {
        if (!Base64Bracket.TryDecode(raw, out uuid))
        {
            error = Base64Bracket.DecodeError;
            return false;
        }

        if (uuid.Length == 0)
        {
            error = EmptyUuid;
            return false;
        }

        error = "";
        return true;
    }

    private static bool TryParseKey(string raw, out string key, out string error)
    {
        if (!Base64Bracket.TryDecode(raw, out key))
        {
            error = Base64Bracket.DecodeError;
            return false;
        }

        if (!AnnexKey.IsValid(key))
        {
            error = AnnexKey.ParseError;
            return false;
        }

        error = "";
        return true;
    }

    /// <summary>An integer as Haskell's <c>readMaybe</c> takes it: surrounding blanks, an optional minus sign, digits.</summary>
    public static bool TryParseInteger(string raw, out long value)
    {
        value = 0;
        var s = raw.AsSpan().Trim();
        var negative = s.StartsWith("-");
        var digits = negative ? s[1..] : s;
        if (digits.IsEmpty || digits.ContainsAnyExceptInRange('0', '9'))
        {
            return false;
        }

        // Beyond 64 bits git-annex still parses; saturate so callers keep a meaningful order.
        value = long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : long.MaxValue;
        if (negative)
        {
            value = -value;
        }

        return true;
    }
}

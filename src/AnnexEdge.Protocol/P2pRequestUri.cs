using System.Globalization;
using System.Text;

namespace AnnexEdge.Protocol;

/// <summary>
/// Writes a parsed request back as a p2phttp path and query: the only way the edge addresses a backend. Built from
/// the values the parser validated, never from the client's raw query, so a backend sees exactly what the edge checked
/// (a parameter the edge did not read, a repeat, or a <c>;</c>-separated extra cannot reach it).
/// </summary>
public static class P2pRequestUri
{
    /// <summary><c>/git-annex/UUID/vN/ENDPOINT?...</c> (or the unversioned <c>/git-annex/UUID/key/KEY</c>).</summary>
    public static string PathAndQuery(P2pRequest request)
    {
        var uri = new StringBuilder(128).Append(P2pRequestParser.PathPrefix).Append(Segment(request.Uuid)).Append('/');
        if (request.Version is { } version)
        {
            uri.Append('v').Append(version.ToString(CultureInfo.InvariantCulture)).Append('/');
        }

        uri.Append(request.Endpoint.Name());
        if (request.Endpoint == P2pEndpoint.Key)
        {
            uri.Append('/').Append(Segment(request.Key!));
        }

        var first = true;
        void Add(string name, string value)
        {
            uri.Append(first ? '?' : '&').Append(name).Append('=').Append(value);
            first = false;
        }

        // Only the parameters the endpoint takes, in the order P2pRequestParser reads them.
        var endpoint = request.Endpoint;
        if (endpoint == P2pEndpoint.Put && request.DataPresent && request.Version >= 4)
        {
            Add("data-present", "true");
        }

        if (endpoint == P2pEndpoint.KeepLocked && request.LockId is { } lockId)
        {
            Add("lockid", Segment(lockId));
        }

        if (endpoint is not (P2pEndpoint.Key or P2pEndpoint.GetTimestamp or P2pEndpoint.KeepLocked) && request.Key is { } key)
        {
            Add("key", Segment(key));
        }

        if (request.ClientUuid is { } client)
        {
            Add("clientuuid", Segment(client));
        }

        foreach (var bypass in request.Bypass)
        {
            Add("bypass", Segment(bypass));
        }

        if (endpoint is P2pEndpoint.Key or P2pEndpoint.Put)
        {
            if (request.AssociatedFile is { } file)
            {
                // Always bracketed, as git-annex's client sends it: a file name may hold anything.
                Add("associatedfile", Base64Bracket.Encode(file));
            }

            if (request.Offset is { } offset)
            {
                Add("offset", offset.ToString(CultureInfo.InvariantCulture));
            }
        }

        if (endpoint == P2pEndpoint.RemoveBefore && request.Timestamp is { } timestamp)
        {
            Add("timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        }

        return uri.ToString();
    }

    /// <summary>
    /// A key or UUID as a path segment or query value: as it is when every character is plainly safe, otherwise in the
    /// bracketed base64 form (which also keeps a value that itself looks bracketed from being decoded twice).
    /// </summary>
    private static string Segment(string value)
    {
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' or ',' or '@' or ':' or '='))
            {
                return Base64Bracket.Encode(value);
            }
        }

        return value;
    }
}

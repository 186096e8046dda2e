using System.Globalization;

namespace AnnexEdge.Forwarding.Download;

/// <summary>Which requests are content downloads, the requests a download transport carries.</summary>
internal static class KeyDownloadRequest
{
    /// <summary>Whether the request is a content download: a bodiless GET of <c>/git-annex/UUID[/vN]/key/KEY</c>.</summary>
    public static bool Matches(HttpRequestMessage request)
    {
        if (request.Method != HttpMethod.Get || request.Content is not null || request.RequestUri is not { IsAbsoluteUri: true } uri
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return false;
        }

        var path = uri.AbsolutePath;
        var at = path.LastIndexOf("/git-annex/", StringComparison.Ordinal);
        if (at < 0)
        {
            return false;
        }

        // UUID, then an optional version, then "key", then the key: the parser has validated the rest.
        var segments = path[(at + "/git-annex/".Length)..].Split('/');
        return segments is [_, "key", _] or [_, ['v', _], "key", _];
    }

    /// <summary>The key of a request that <see cref="Matches"/>, as its path spells it.</summary>
    public static string Key(Uri uri) => Uri.UnescapeDataString(uri.AbsolutePath[(uri.AbsolutePath.LastIndexOf('/') + 1)..]);

    /// <summary>The request's <c>offset</c> parameter, 0 when it has none (the parser has refused malformed ones).</summary>
    public static long Offset(Uri uri)
    {
        foreach (var parameter in uri.Query.TrimStart('?').Split('&'))
        {
            if (parameter.StartsWith("offset=", StringComparison.Ordinal)
                && long.TryParse(parameter.AsSpan("offset=".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                return offset;
            }
        }

        return 0;
    }

    /// <summary>The same request with its <c>offset</c> parameter set to <paramref name="offset"/>, the other parameters kept in order.</summary>
    public static Uri WithOffset(Uri uri, long offset)
    {
        var kept = uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !p.StartsWith("offset=", StringComparison.Ordinal) && p != "offset");
        var query = string.Join('&', kept.Append("offset=" + offset.ToString(CultureInfo.InvariantCulture)));
        return new UriBuilder(uri) { Query = query }.Uri;
    }
}

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
}

namespace AnnexEdge.Acme.Hosting;

/// <summary>
/// Where a plain-HTTP request is redirected: HTTPS on one of the configured domains, never on a host the client
/// named, so a forged <c>Host</c> cannot turn the edge into a redirector to another site (or poison a cache with one).
/// A request for a configured domain stays on it; any other (an IP address, an unknown name) goes to the first.
/// </summary>
internal static class HttpsRedirect
{
    public static string Location(string requestHost, IReadOnlyList<string> domains, int httpsPort, string pathAndQuery)
    {
        var named = requestHost.TrimEnd('.');
        var host = domains.FirstOrDefault(d => string.Equals(d.TrimEnd('.'), named, StringComparison.OrdinalIgnoreCase)) ?? domains[0];
        var authority = httpsPort == 443 ? host : $"{host}:{httpsPort}";
        return $"https://{authority}{pathAndQuery}";
    }
}

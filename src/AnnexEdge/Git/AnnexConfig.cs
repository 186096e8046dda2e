using AnnexEdge.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace AnnexEdge.Git;

/// <summary>
/// The <c>config</c> a repository's URL answers: only what git-annex reads from an http remote's config, its
/// <c>annex.uuid</c> and the <c>annex.url</c> (<c>annex+https://edge/git-annex/</c>) that it copies into
/// <c>remote.NAME.annexUrl</c> on first use (git-annex 10.20240731 and later). Nothing else of the repository's own
/// config is ever sent: it may hold credentials or paths.
/// </summary>
internal sealed class AnnexConfig(AnnexEdgeOptions options, IServer server)
{
    /// <summary>The answer for a repository with this annex.uuid, seen from this edge URL (none: no annex.url).</summary>
    public static string Text(string uuid, string? publicUrl) =>
        "[annex]\n\tuuid = " + uuid + "\n"
        + (publicUrl is null ? "" : "\turl = annex+" + publicUrl.TrimEnd('/') + "/git-annex/\n");

    /// <summary>
    /// The edge's public URL for this request: <c>AnnexEdge:PublicUrl</c>, or else the request's own scheme and Host
    /// when that Host is one the edge knows as its own (an ACME domain, or a listen address as bound). A Host the edge
    /// does not know gives none: anyone can send any Host, and the URL tells clients where to send their content.
    /// </summary>
    public string? PublicUrl(HttpRequest request)
    {
        if (options.PublicUrl is { } configured)
        {
            return configured.TrimEnd('/');
        }

        var host = request.Host;
        if (!host.HasValue)
        {
            return null;
        }

        var known = options.Acme.Domains.Contains(host.Host, StringComparer.OrdinalIgnoreCase)
            || ListenAddresses().Any(a => a.Scheme == request.Scheme
                && string.Equals(a.Authority, host.Value, StringComparison.OrdinalIgnoreCase));
        return known ? request.Scheme + "://" + host.ToUriComponent() : null;
    }

    // As Kestrel bound them (a port of 0 is the real port by now); wildcard hosts (*, +, 0.0.0.0) never match a Host.
    private IEnumerable<Uri> ListenAddresses() =>
        (server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
            .Select(a => Uri.TryCreate(a, UriKind.Absolute, out var uri) ? uri : null)
            .OfType<Uri>()
            .Where(uri => !(System.Net.IPAddress.TryParse(uri.Host, out var ip)
                && (ip.Equals(System.Net.IPAddress.Any) || ip.Equals(System.Net.IPAddress.IPv6Any))));
}

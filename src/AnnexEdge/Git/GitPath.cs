using System.Text.RegularExpressions;
using AnnexEdge.Security;
using Microsoft.AspNetCore.WebUtilities;

namespace AnnexEdge.Git;

/// <summary>What git (or git-annex) asks of a repository over smart HTTP.</summary>
internal enum GitService
{
    /// <summary><c>GET info/refs?service=git-upload-pack</c>: the refs a fetch or clone starts from.</summary>
    UploadPackAdvertisement,

    /// <summary><c>GET info/refs?service=git-receive-pack</c>: the refs a push starts from.</summary>
    ReceivePackAdvertisement,

    /// <summary><c>POST git-upload-pack</c>: a fetch's pack.</summary>
    UploadPack,

    /// <summary><c>POST git-receive-pack</c>: a push's pack.</summary>
    ReceivePack,

    /// <summary><c>GET HEAD</c>: the default branch (read by some clients).</summary>
    Head,

    /// <summary><c>GET config</c>: answered by the edge itself with <c>annex.uuid</c> and <c>annex.url</c>.</summary>
    Config,
}

/// <summary>
/// A request for git's smart-HTTP protocol: <c>/NAME/...</c> or <c>/NAME.git/...</c>, <see cref="Name"/> being the
/// first path segment as written (the catalog resolves it, with or without <c>.git</c>), and the part after it, which
/// is what an upstream git server is asked for.
/// </summary>
internal sealed partial record GitPath(string Name, GitService Service, string Rest)
{
    /// <summary>
    /// The git request this is, or null for anything else: other paths, dumb-protocol object paths, a service that is
    /// not git's, the wrong method. <paramref name="path"/> is the request path as ASP.NET Core decodes it (an encoded
    /// slash stays <c>%2F</c>, so it can never split or join segments).
    /// </summary>
    public static GitPath? Parse(string method, string path, string? query)
    {
        if (path.Length < 2 || path[0] != '/')
        {
            return null;
        }

        var slash = path.IndexOf('/', 1);
        if (slash < 0)
        {
            return null;
        }

        var name = path[1..slash];
        var rest = path[slash..];
        if (!NamePattern().IsMatch(name) || name is "." or "..")
        {
            return null;
        }

        GitService? service = (method, rest) switch
        {
            ("GET", "/info/refs") => Query(query, "service") switch
            {
                "git-upload-pack" => GitService.UploadPackAdvertisement,
                "git-receive-pack" => GitService.ReceivePackAdvertisement,
                _ => null, // the dumb protocol's info/refs: not served
            },
            ("POST", "/git-upload-pack") => GitService.UploadPack,
            ("POST", "/git-receive-pack") => GitService.ReceivePack,
            ("GET", "/HEAD") => GitService.Head,
            ("GET", "/config") => GitService.Config,
            _ => null,
        };
        return service is { } s ? new GitPath(name, s, rest) : null;
    }

    /// <summary>Whether serving it changes the repository (a push): it needs more than <c>readonly</c>.</summary>
    public bool IsPush => Service is GitService.ReceivePackAdvertisement or GitService.ReceivePack;

    /// <summary>
    /// The class of action access is decided for: a read, or a push, which may rewrite or delete branches and so needs
    /// what a removal needs (<c>full</c>), unless the operator lets <c>appendonly</c> push as it writes.
    /// </summary>
    public P2pAction Action(bool appendOnlyMayPush) =>
        !IsPush ? P2pAction.Read : appendOnlyMayPush ? P2pAction.Write : P2pAction.Remove;

    /// <summary>The service as logs and the audit name it.</summary>
    public string ServiceName => Service switch
    {
        GitService.UploadPackAdvertisement => "git-upload-pack-refs",
        GitService.ReceivePackAdvertisement => "git-receive-pack-refs",
        GitService.UploadPack => "git-upload-pack",
        GitService.ReceivePack => "git-receive-pack",
        GitService.Head => "git-head",
        _ => "git-config",
    };

    private static string? Query(string? query, string name) =>
        string.IsNullOrEmpty(query) ? null
        : QueryHelpers.ParseQuery(query).TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null;

    [GeneratedRegex(@"^[A-Za-z0-9._-]+\z")]
    private static partial Regex NamePattern();
}

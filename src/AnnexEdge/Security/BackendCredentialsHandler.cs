using System.Net.Http.Headers;
using System.Text;

namespace AnnexEdge.Security;

/// <summary>What the edge sends a repository's (or peer's) backends: its own Basic credentials, or the client's, or none.</summary>
internal sealed record BackendCredentials(AuthenticationHeaderValue? Authorization, bool ForwardClientAuthorization)
{
    public static readonly BackendCredentials None = new(null, ForwardClientAuthorization: false);

    // Most repositories have none (all of a directory's): they share one instance.
    public static BackendCredentials Of(string? user, string? password, bool forwardClientAuthorization) =>
        user is null && !forwardClientAuthorization ? None : new(
            user is null ? null : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + (password ?? "")))),
            forwardClientAuthorization);
}

/// <summary>
/// Sits in the HTTP client of every repository's backends, so it sees everything the edge sends to a node
/// (forwarded requests, keeplocked relays, cluster fan-out, health probes): the client's own credentials are
/// dropped unless the repository says to pass them on, and the edge's backend credentials are added if set. They are
/// read for each request from the configuration in force (<paramref name="current"/>): YARP keeps a cluster's client
/// across a reload that changes only its credentials.
/// </summary>
internal sealed class BackendCredentialsHandler(HttpMessageHandler inner, Func<BackendCredentials> current)
    : DelegatingHandler(inner)
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var credentials = current();
        request.Headers.ProxyAuthorization = null;
        if (credentials.Authorization is not null || !credentials.ForwardClientAuthorization)
        {
            request.Headers.Authorization = credentials.Authorization;
        }

        return base.SendAsync(request, cancellationToken);
    }
}

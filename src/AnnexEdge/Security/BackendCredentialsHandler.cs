using System.Net.Http.Headers;
using System.Text;

namespace AnnexEdge.Security;

/// <summary>
/// Sits in the HTTP client of every repository's backends, so it sees everything the edge sends to a node
/// (forwarded requests, keeplocked relays, cluster fan-out, health probes): the client's own credentials are
/// dropped unless the repository says to pass them on, and the edge's backend credentials are added if set.
/// </summary>
internal sealed class BackendCredentialsHandler(HttpMessageHandler inner, string? user, string? password, bool forwardClientAuthorization)
    : DelegatingHandler(inner)
{
    private readonly AuthenticationHeaderValue? _backend = user is null
        ? null
        : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + (password ?? ""))));

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.ProxyAuthorization = null;
        if (_backend is not null || !forwardClientAuthorization)
        {
            request.Headers.Authorization = _backend;
        }

        return base.SendAsync(request, cancellationToken);
    }
}

using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Telemetry;

/// <summary>
/// Who may read <c>/metrics</c> and the status page: loopback clients (any client with <c>StatusAllowRemote</c>),
/// as for <c>/_annexedge/status</c>, and from anywhere a user with the <c>metrics</c> role (Basic credentials,
/// checked and throttled as every login is). Anyone else gets 404, so the pages do not show that they exist.
/// </summary>
internal sealed class OperatorAccess(IOptions<AnnexEdgeOptions> options, RepositoryCatalog catalog, Authenticator authenticator, EdgeMetrics metrics)
{
    public async ValueTask<bool> AllowsAsync(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (options.Value.StatusAllowRemote || remote is null || IPAddress.IsLoopback(remote))
        {
            return true;
        }

        var authorization = context.Request.Headers.Authorization.ToString();
        if (!catalog.Current.Options.Users.Any(IsOperator) || authorization.Length == 0)
        {
            return false;
        }

        var (state, user) = await authenticator.AuthenticateAsync(
            authorization, context.Request.IsHttps, Connections.ClientAddress.PartitionKey(remote), context.RequestAborted);
        switch (state)
        {
            case CredentialState.Invalid:
                metrics.LoginFailed();
                break;
            case CredentialState.Throttled:
                metrics.LoginThrottled(busy: false);
                break;
            case CredentialState.Busy:
                metrics.LoginThrottled(busy: true);
                break;
        }

        return user is not null && catalog.Current.Options.Users.Any(u => u.Name == user && IsOperator(u));
    }

    // Read from the configuration in force: a reload may add or remove operators.
    private static bool IsOperator(UserOptions user) => user.Roles.Contains(UserOptions.MetricsRole, StringComparer.Ordinal);
}

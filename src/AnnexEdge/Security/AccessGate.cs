using System.Security.Claims;
using AnnexEdge.Logging;

namespace AnnexEdge.Security;

/// <summary>
/// Decides whether a request (p2phttp or git) may go on, before anything is forwarded or any body is read (so an
/// <c>Expect: 100-continue</c> upload that is refused never sends its body), and answers the refusals.
/// </summary>
internal sealed partial class AccessGate(
    Authenticator authenticator,
    AuditLog audit,
    Telemetry.EdgeMetrics metrics,
    ILogger<AccessGate> logger)
{
    /// <summary>
    /// True when the request may be served; otherwise the refusal has been written. <paramref name="policy"/> is that
    /// of the configuration the request resolved its target in.
    /// </summary>
    public async Task<bool> AuthorizeAsync(HttpContext context, AccessRequest request, AccessTarget target, AccessPolicy policy)
    {
        var secure = context.Request.IsHttps;
        var remote = context.Connection.RemoteIpAddress;
        // The throttles count a client as every other per-address control does (an IPv6 client by its /64).
        var counted = remote is null ? null : Connections.ClientAddress.PartitionKey(remote);
        var (credentials, user) = await authenticator.AuthenticateAsync(
            context.Request.Headers.Authorization.ToString(), secure, counted, context.RequestAborted);
        var level = user is null ? policy.AnonymousLevel(target) : policy.UserLevel(user, target);
        var canAuthenticate = policy.HasUsers && (secure || policy.AllowCredentialsOverHttp);
        var decision = AccessPolicy.Decide(credentials, level, request.Action, policy.AnonymousLocking, canAuthenticate);

        if (user is not null)
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], "Basic"));
        }

        if (decision == AccessDecision.Allow)
        {
            return true;
        }

        switch (decision)
        {
            case AccessDecision.NeedCredentials:
                if (credentials == CredentialState.Invalid)
                {
                    Log.LoginFailed(logger, remote?.ToString(), target.Name);
                    metrics.LoginFailed();
                }

                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = BasicCredentials.Challenge;
                break;
            case AccessDecision.TooManyFailedLogins:
                Log.LoginThrottled(logger, remote?.ToString());
                metrics.LoginThrottled(busy: false);
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = "60";
                break;
            case AccessDecision.TooManyPasswordChecks:
                Log.PasswordChecksBusy(logger, remote?.ToString());
                metrics.LoginThrottled(busy: true);
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                // A check takes about half a second: the client may try again almost at once.
                context.Response.Headers.RetryAfter = "1";
                break;
            case AccessDecision.CredentialsNeedHttps:
                Log.CredentialsOverHttp(logger, remote?.ToString());
                await WriteAsync(context, StatusCodes.Status403Forbidden, "credentials are only accepted over HTTPS\n");
                break;
            default:
                Log.AccessDenied(logger, user ?? "(anonymous)", request.Name, target.Name, level.Name());
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                break;
        }

        if (request.Audited)
        {
            audit.Write(context, request, target, user);
        }

        return false;
    }

    private static Task WriteAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain;charset=utf-8";
        return context.Response.WriteAsync(body, context.RequestAborted);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LoginFailed, LogLevel.Warning, "Failed login from {RemoteIp} for {Target}")]
        public static partial void LoginFailed(ILogger logger, string? remoteIp, string target);

        [LoggerMessage(EdgeEventIds.LoginThrottled, LogLevel.Warning, "Refused a login from {RemoteIp}: too many failed logins from it (for this user name or in all) in the last minute")]
        public static partial void LoginThrottled(ILogger logger, string? remoteIp);

        [LoggerMessage(EdgeEventIds.PasswordChecksBusy, LogLevel.Warning, "Refused a login from {RemoteIp} unchecked: it already has its share of password checks running (Limits:PasswordChecksPerIp)")]
        public static partial void PasswordChecksBusy(ILogger logger, string? remoteIp);

        [LoggerMessage(EdgeEventIds.CredentialsOverHttp, LogLevel.Warning, "Refused credentials sent over plain HTTP by {RemoteIp} (AllowBasicAuthOverHttp is off)")]
        public static partial void CredentialsOverHttp(ILogger logger, string? remoteIp);

        [LoggerMessage(EdgeEventIds.AccessDenied, LogLevel.Information, "Denied {Endpoint} on {Target} to {User} (access {Access})")]
        public static partial void AccessDenied(ILogger logger, string user, string endpoint, string target, string access);
    }
}

using AnnexEdge.Logging;

namespace AnnexEdge.Security;

/// <summary>
/// One structured event per put, putoffset, remove and remove-before, and per git push, allowed or not: who (user or
/// anonymous, address), what (endpoint or git service, UUID, target, key) and the answer's status. Never a credential.
/// </summary>
internal sealed partial class AuditLog(ILogger<AuditLog> logger)
{
    public void Write(HttpContext context, AccessRequest request, AccessTarget target, string? user) =>
        Log.Audit(
            logger,
            request.Name,
            user ?? "(anonymous)",
            target.Name,
            request.Uuid,
            request.Key,
            context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode,
            context.Connection.RemoteIpAddress?.ToString());

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.Audit, LogLevel.Information, "Audit {AuditAction} by {User} on {Target} ({Uuid}) key {Key}: {StatusCode} from {RemoteIp}")]
        public static partial void Audit(ILogger logger, string auditAction, string user, string target, string uuid, string? key, int statusCode, string? remoteIp);
    }
}

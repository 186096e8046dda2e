using AnnexEdge.Pipeline;

namespace AnnexEdge.Security;

/// <summary>
/// The access layer of every P2P request, before anything is forwarded, fanned out or read from the body: who the
/// client is, whether it may do this to this target, and the audit event of every write or removal.
/// </summary>
internal sealed class AccessMiddleware(RequestDelegate next, AccessGate gate, AuditLog audit)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetP2pRequest() is not { } feature)
        {
            await next(context);
            return;
        }

        var request = AccessRequest.Of(feature.Request);
        var target = AccessPolicy.TargetOf(feature.Catalog, feature.Target);
        if (!await gate.AuthorizeAsync(context, request, target, feature.Catalog.Access))
        {
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            if (request.Audited)
            {
                audit.Write(context, request, target, context.User.Identity?.Name);
            }
        }
    }
}

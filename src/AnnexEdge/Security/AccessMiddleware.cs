using AnnexEdge.Pipeline;
using AnnexEdge.Routing;

namespace AnnexEdge.Security;

/// <summary>
/// The access layer of every P2P request, before anything is forwarded, fanned out or read from the body: who the
/// client is, whether it may do this to this target, and the audit event of every write or removal.
/// </summary>
internal sealed class AccessMiddleware(RequestDelegate next, RepositoryCatalog catalog, AccessGate gate, AuditLog audit)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetP2pRequest() is not { } feature)
        {
            await next(context);
            return;
        }

        var request = AccessRequest.Of(feature.Request);
        var target = AccessPolicy.TargetOf(catalog, feature.Target);
        if (!await gate.AuthorizeAsync(context, request, target))
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

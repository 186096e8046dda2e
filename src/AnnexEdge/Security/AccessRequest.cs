using AnnexEdge.Protocol;

namespace AnnexEdge.Security;

/// <summary>
/// What the access layer needs of a request, whichever protocol carried it: its name in logs and audit (a p2phttp
/// endpoint, a git service), the class of action permissions are granted for, the UUID it addresses, the key if any,
/// and whether it is audited (writes and removals are, allowed or not).
/// </summary>
internal sealed record AccessRequest(string Name, P2pAction Action, string Uuid, string? Key, bool Audited)
{
    public static AccessRequest Of(P2pRequest request) => new(
        request.Endpoint.Name(),
        request.Endpoint.Action(),
        request.Uuid,
        request.Key,
        request.Endpoint.IsWrite() || request.Endpoint.IsRemoval());
}

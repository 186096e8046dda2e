namespace AnnexEdge.Protocol;

/// <summary>An answer to a request that must not reach a backend, shaped as <c>git annex p2phttp</c> gives it.</summary>
public sealed record P2pRejection(int StatusCode, string Body)
{
    public static readonly P2pRejection NotFound = new(404, "");
    public static readonly P2pRejection MethodNotAllowed = new(405, "");
    public static readonly P2pRejection BadVersion = new(400, "bad version");

    public static P2pRejection MissingParameter(string name) => new(400, $"Query parameter {name} is required");

    public static P2pRejection BadParameter(string name, string error) => new(400, $"Error parsing query parameter {name} failed: {error}");

    public static P2pRejection BadParameterList(string name, string error) => new(400, $"Error parsing query parameter(s) {name} failed: {error}");

    public static P2pRejection MissingHeader(string name) => new(400, $"Header {name} is required");

    public static P2pRejection BadHeader(string name, string error) => new(400, $"Error parsing header {name} failed: {error}");
}

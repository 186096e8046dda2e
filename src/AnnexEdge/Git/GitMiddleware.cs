using AnnexEdge.Logging;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using Microsoft.AspNetCore.Http.Features;

namespace AnnexEdge.Git;

/// <summary>
/// Git over smart HTTP at <c>/NAME</c> and <c>/NAME.git</c>: resolves NAME through the <see cref="GitCatalog"/> per
/// request, lets the access layer of the annex API decide (fetching needs <c>readonly</c>, pushing <c>full</c>, or
/// <c>appendonly</c> with <c>Git:AppendOnlyMayPush</c>), audits every push, answers <c>config</c> itself and hands
/// the rest to <c>git http-backend</c> or the upstream git server. Any other path goes on untouched.
/// </summary>
internal sealed partial class GitMiddleware(
    RequestDelegate next,
    RepositoryCatalog repositories,
    AccessGate gate,
    AuditLog audit,
    AnnexConfig annexConfig,
    GitHttpBackend backend,
    GitUpstreamProxy upstream,
    ILogger<GitMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        // The configuration in force when the request arrived serves it to its end, whatever a reload does meanwhile.
        var snapshot = repositories.Current;
        if (GitPath.Parse(request.Method, request.Path.Value ?? "", request.QueryString.Value) is not { } path
            || snapshot.Git.Find(path.Name) is not { } repository)
        {
            await next(context);
            return;
        }

        context.Features.Set(new GitRequestFeature(repository, path));
        var access = new AccessRequest(
            path.ServiceName,
            path.Action(snapshot.Options.Git.AppendOnlyMayPush),
            repository.AnnexUuid,
            Key: null,
            Audited: path.IsPush);
        var target = AccessPolicy.TargetOf(snapshot, repository.Target);
        if (!await gate.AuthorizeAsync(context, access, target, snapshot.Access))
        {
            return;
        }

        if (path.Service is GitService.UploadPack or GitService.ReceivePack
            && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } max)
        {
            // A pack of any size streams through.
            max.MaxRequestBodySize = null;
        }

        try
        {
            if (path.Service == GitService.Config)
            {
                await AnswerConfigAsync(context, repository);
            }
            else if (repository.Directory is not null)
            {
                await backend.ServeAsync(context, repository, path);
            }
            else
            {
                await upstream.ServeAsync(context, repository, path);
            }
        }
        finally
        {
            // The push itself; a refused one was audited by the gate, and the ref advertisement changes nothing.
            if (path.Service == GitService.ReceivePack)
            {
                audit.Write(context, access, target, context.User.Identity?.Name);
            }
        }
    }

    private Task AnswerConfigAsync(HttpContext context, GitRepository repository)
    {
        var publicUrl = annexConfig.PublicUrl(context.Request);
        if (publicUrl is null)
        {
            Log.NoPublicUrl(logger, repository.Name, context.Request.Host.Value);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.WriteAsync(AnnexConfig.Text(repository.AnnexUuid, publicUrl), context.RequestAborted);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.GitNoPublicUrl, LogLevel.Information, "Answered the config of {Repository} without annex.url: Host {Host} is not one of the edge's own; set AnnexEdge:PublicUrl")]
        public static partial void NoPublicUrl(ILogger logger, string repository, string? host);
    }
}

/// <summary>The git repository and service of a git request, for the request log.</summary>
internal sealed record GitRequestFeature(GitRepository Repository, GitPath Path);

using AnnexEdge.Configuration;
using AnnexEdge.Directories;
using Spectre.Console;

namespace AnnexEdge.Hosting;

/// <summary>
/// <c>AnnexEdge check-config</c>: the configuration is valid (it was built), and what it serves, with the repositories
/// its <c>Directories</c> hold now and those it would skip and why. Scanning a forge's directory can take a while, so
/// a terminal is shown its progress (Spectre.Console); a pipe or a log gets the result lines alone.
/// </summary>
internal static class CheckConfigCommand
{
    public const string Name = "check-config";

    /// <param name="output">Where the result lines go, unwrapped, as scripts read them.</param>
    /// <param name="console">Where a terminal is shown the scan's progress, if it is one.</param>
    /// <returns>0 when every directory could be listed, 2 when one could not.</returns>
    public static int Run(AnnexEdgeOptions options, TextWriter output, IAnsiConsole console)
    {
        List<IReadOnlyList<FoundRepository>> found = [];
        var unreadable = new List<string>();
        void ScanAll(Func<DirectoryOptions, Action?> progress) =>
            found = RepositoryDirectories.ScanAll(options.Directories, (directory, e) =>
            {
                unreadable.Add($"{directory.Path}: {e.Message}");
                return [];
            }, progress);

        if (options.Directories.Count > 0 && console.Profile.Capabilities.Interactive)
        {
            console.Progress().Start(context =>
            {
                var tasks = options.Directories.ToDictionary(d => d, d => context.AddTask(Markup.Escape(d.Path), autoStart: false, maxValue: CountOrOne(d.Path)));
                ScanAll(d =>
                {
                    tasks[d].StartTask();
                    return () => tasks[d].Increment(1);
                });
                foreach (var task in tasks.Values)
                {
                    task.Value = task.MaxValue;
                }
            });
        }
        else
        {
            ScanAll(_ => null);
        }

        var (effective, served, skipped) = RepositoryDirectories.Merge(options, found);
        foreach (var line in unreadable)
        {
            output.WriteLine($"AnnexEdge: directory cannot be listed: {line}");
        }

        foreach (var line in skipped)
        {
            output.WriteLine($"AnnexEdge: skipped {line}");
        }

        var fromDirectories = options.Directories.Count > 0 ? $", {served.Count} of them from Directories, {skipped.Count} skipped" : "";
        output.WriteLine($"AnnexEdge: configuration is valid ({effective.Repositories.Count} repositories{fromDirectories})");
        return unreadable.Count == 0 ? 0 : 2;
    }

    private static double CountOrOne(string path)
    {
        try
        {
            return Math.Max(1, System.IO.Directory.EnumerateDirectories(path).Count());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 1;
        }
    }
}

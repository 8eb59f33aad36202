using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using MsSwift.Contracts;
using MsSwift.Data.Datasets;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Data.Http;

/// <summary>
/// Dataset ingestion over HTTP: <c>POST /datasets/{name}</c> with the records as the (streamed)
/// body, or <c>POST /datasets/{name}/from-path</c> with a file on the allow list; <c>GET
/// /datasets/{name}[/{version}]</c> returns the report. Errors are ProblemDetails.
/// </summary>
internal static class DatasetEndpoints
{
    public static IEndpointRouteBuilder MapDatasetEndpoints(this IEndpointRouteBuilder app)
    {
        var datasets = app.MapGroup("/datasets");
        datasets.MapPost("/{name}", async (string name, HttpContext http, DatasetStore store, IOptions<DataOptions> options) =>
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = options.Value.MaxUploadBytes;
            }

            using var reader = new StreamReader(http.Request.Body);
            return await IngestAsync(name, reader, http.Request.Query, store, http.RequestAborted);
        });
        datasets.MapPost("/{name}/from-path", async (string name, PathRequest body, HttpContext http, DatasetStore store, IOptions<DataOptions> options) =>
        {
            var path = Path.GetFullPath(body.Path ?? "");
            var allowed = options.Value.AllowedPaths.Select(Path.GetFullPath).Any(root => path.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal));
            if (!allowed)
            {
                return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Path not allowed",
                    detail: $"'{path}' is not under Data:AllowedPaths ({string.Join(", ", options.Value.AllowedPaths)})");
            }

            if (!File.Exists(path))
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such file", detail: $"'{path}' does not exist");
            }

            using var reader = new StreamReader(path);
            return await IngestAsync(name, reader, http.Request.Query, store, http.RequestAborted);
        });
        datasets.MapGet("/{name}/{version?}", async (string name, string? version, DatasetStore store) =>
            await store.FindAsync(name, version ?? "") is { } info
                ? Results.Text(Google.Protobuf.JsonFormatter.Default.Format(info), "application/json")
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown dataset", detail: $"no dataset '{name}' version '{version ?? "latest"}'"));
        return app;
    }

    private static async Task<IResult> IngestAsync(string name, TextReader reader, IQueryCollection query, DatasetStore store, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (!ResourceNames.IsValid(name))
        {
            errors["name"] = [$"use {ResourceNames.Rule}"];
        }

        var format = query["format"].ToString() is { Length: > 0 } formatText ? formatText : "text";
        if (!Enum.TryParse<RecordFormat>(format, ignoreCase: true, out var recordFormat) || int.TryParse(format, out _))
        {
            errors["format"] = ["text or jsonl"];
        }

        var tokenizer = query["tokenizer"].ToString() is { Length: > 0 } id ? id : TokenizerRegistry.DefaultId;
        if (!TokenizerRegistry.KnownIds.Contains(tokenizer))
        {
            errors["tokenizer"] = [$"one of {string.Join(", ", TokenizerRegistry.KnownIds)}"];
        }

        var validationPercent = 10;
        if (query["validation_percent"].ToString() is { Length: > 0 } percent && (!int.TryParse(percent, out validationPercent) || validationPercent is < 0 or > 50))
        {
            errors["validation_percent"] = ["an integer from 0 to 50"];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var built = await DatasetBuilder.BuildAsync(name, reader, new IngestOptions(recordFormat, tokenizer, validationPercent), cancellationToken);
        if (built.Info.Documents == 0)
        {
            return Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "No documents",
                detail: $"no usable documents ({built.Info.Malformed} malformed records)");
        }

        await store.SaveAsync(built, cancellationToken);
        return Results.Text(Google.Protobuf.JsonFormatter.Default.Format(built.Info), "application/json", statusCode: StatusCodes.Status201Created);
    }

    internal sealed record PathRequest(string? Path);
}

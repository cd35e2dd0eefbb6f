-- Argo CD health of a trading.eternal-engine.io Backtest: Progressing while its shards run
-- (done/total in the message), Healthy once every shard's rows are ranked, Degraded when it
-- failed (the Completed condition's message says why). Lua 5.1 (gopher-lua).
local hs = { status = "Progressing", message = "Waiting for the backtest controller" }
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local why = ""
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Completed" then
      why = c.message or c.reason or ""
    end
  end
end
if obj.status.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = "Best score " .. (obj.status.bestScore or "?") .. "; " ..
    (obj.status.progress or "?") .. " shards"
elseif obj.status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = why
else
  hs.message = obj.status.phase .. ": " .. (obj.status.progress or "0/?") .. " shards"
end
return hs

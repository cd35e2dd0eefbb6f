-- Argo CD health of a trading.eternal-engine.io ModelTraining: Progressing until the training of
-- the current spec has finished, Healthy once its model is published, Degraded when it failed
-- (the Trained condition's message says why). Lua 5.1 (gopher-lua).
local hs = { status = "Progressing", message = "Waiting for the training controller" }
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.message = "A new spec is not trained yet"
  return hs
end
local why = ""
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Trained" then
      why = c.message or c.reason or ""
    end
  end
end
if obj.status.phase == "Succeeded" then
  hs.status = "Healthy"
  local metrics = obj.status.metrics or {}
  hs.message = "Published into " .. (obj.status.configMap or "?") .. "; precision " ..
    (metrics.precision or "?") .. ", AUC " .. (metrics.auc or "?")
elseif obj.status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = why
else
  hs.message = obj.status.phase .. ": " .. why
end
return hs

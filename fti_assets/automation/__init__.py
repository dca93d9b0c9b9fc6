"""Every job, schedule and sensor of the code location, in one place."""

from fti_assets.automation.jobs import daily_replay_job, feature_job, inference_job, promote_job, training_job
from fti_assets.automation.schedules import daily_replay_schedule, weekly_training
from fti_assets.automation.sensors import retrain_on_degradation

JOBS = [feature_job, training_job, inference_job, daily_replay_job, promote_job]
SCHEDULES = [weekly_training, daily_replay_schedule]
SENSORS = [retrain_on_degradation]

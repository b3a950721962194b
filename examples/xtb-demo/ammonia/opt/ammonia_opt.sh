#!/bin/bash
#SBATCH --job-name=ammonia_opt
#SBATCH --ntasks=1
#SBATCH --time=10
# xTB geometry optimisation; ccbatch judges ammonia_opt.out.
export OMP_NUM_THREADS=1
xtb start.xyz --opt > ammonia_opt.out 2>&1
